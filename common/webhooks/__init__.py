"""Webhooks: what the API (accepting a ``callback_url``, listing deliveries) and the webhooks
stage (signing, delivering, recording) share: the address policy, the signature, the
delivery records and the message that asks for a delivery."""
