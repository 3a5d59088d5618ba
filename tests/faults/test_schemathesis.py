"""Schemathesis against the distributed deployment (the API process, real workers, the
private broker and database), every check and phase stateful included: no 5xx and no
conformance failure, the same run as tests/ingress/test_schemathesis.py but where uploads
really reach workers and the document is the one a deployment serves."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from common.settings import Settings
from ingress.auth.sessions import Sessions
from ingress.auth.tokens import TokenIssuer
from tests.faults.harness import LEDGER, Faults
from tests.faults.test_hostile import SECRET
from tests.ingress.test_schemathesis import CHECKS_THAT_MATTER, CONFIG, run_schemathesis

pytestmark = pytest.mark.rabbitmq

# As in-process, plus the one 5xx the manual documents: the upload routes answer 503 when a
# job needs weights the workers do not have (GFPGAN's, general_x2's here, offline);
# a_503_only_for_missing_weights_or_an_outage holds every 503 to that.
_UPLOADS = 'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "413"]\n'
FAULTS_CONFIG = CONFIG.replace(_UPLOADS, (
    'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "413", "503"]\n'
    'checks.not_a_server_error.expected-statuses = ["1xx", "2xx", "3xx", "4xx", "503"]\n'), 1)


async def test_the_deployed_api_does_what_its_schema_says(faults: Faults) -> None:
    assert FAULTS_CONFIG != CONFIG, "the 503 allowance did not apply"
    headers = await faults.sign_up()
    user_id = jwt.decode(headers["Authorization"].split()[1],
                         options={"verify_signature": False})["sub"]
    defaults = Settings(_env_file=None, jwt_secret_key=SECRET)  # type: ignore[call-arg]
    issuer = TokenIssuer(secret=SECRET, issuer=defaults.jwt_issuer,
                         audience=defaults.jwt_audience, access_lifetime=timedelta(minutes=30))
    sessions = Sessions(faults.store, issuer, timedelta(days=1))
    loop = asyncio.get_running_loop()

    def fresh_token() -> str:
        # A session of its own for every case (a generated logout ends only its own), made
        # on this test's loop while schemathesis runs on a thread.
        pair = asyncio.run_coroutine_threadsafe(sessions.start(user_id), loop).result(30)
        return pair.access_token

    checks, problems, requests = await asyncio.to_thread(
        run_schemathesis, str(faults.http.base_url).rstrip("/"), fresh_token, FAULTS_CONFIG)
    LEDGER.bad_inputs += requests
    LEDGER.server_errors += sum("not_a_server_error" in p for p in problems)
    assert not problems, "\n".join(sorted(set(problems)))
    assert requests > 500, requests
    for name in CHECKS_THAT_MATTER:
        assert checks[name] > 0, (name, checks)
