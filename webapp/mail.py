"""Outgoing mail, shared with the pipeline (which mails too): see `pipeline.mail`."""

from pipeline.mail import send_mail

__all__ = ["send_mail"]
