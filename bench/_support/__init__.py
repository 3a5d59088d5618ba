"""What the benches share with the tests: the embedded service as a process, a clean
checkout, real clips, video jobs as ingress makes them, the broker's namespace clean-up and a
webhook receiver. The benches import only from here (never from ``tests/``), so a bench runs
from a checkout whatever happens to the test suite; the tests import the same code from here.
"""
