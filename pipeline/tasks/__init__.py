"""Celery tasks, one module per upstream or concern, and the name of each.

Task names are part of the message format: messages queued by the previous release name
them, so they never change (tests/pipeline/test_upgrade.py). Code sends tasks by these
constants, never by a retyped string.
"""

FETCH_WINDOW = "releve.enedis.fetch_window"
ONBOARD = "releve.enedis.onboard"
REFRESH_POINT = "releve.enedis.refresh_point"
REFRESH_ALL = "releve.enedis.refresh_all"
TEMPO_TOMORROW = "releve.rte.tempo_tomorrow"
TEMPO_SEASON = "releve.rte.tempo_season"
TEMPO_HISTORY = "releve.rte.tempo_history"  # new in this release
ECOWATT = "releve.rte.ecowatt"
NATIONAL_CONSUMPTION = "releve.rte.national_consumption"
RENEW_TOKENS = "releve.tokens.renew"
HEARTBEAT = "releve.heartbeat"
SEND_MAIL = "releve.mail.send"
HOLDER_CONSENT_GONE = "releve.transfers.holder_consent_gone"
RESUME_BACKFILLS = "releve.enedis.resume_backfills"
RESEND_UNSENT = "releve.maintenance.resend_unsent"
SIMULATE = "releve.costs.simulate"  # new in this release
FETCH_CUSTOMER = "releve.enedis.fetch_customer"  # new in this release
