"""The webhooks stage: signed deliveries of ended jobs to their callback URLs."""
