"""Configuration classes, chosen by ``FLASK_CONFIG`` (development, testing, production).

Every setting can be overridden from the environment; README.md lists them.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'grants.db'}"
    )
    # hide_parameters: an error's message (and so the error log) never carries a statement's
    # values, such as a new user's password hash or session token.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}

    AGENCY_NAME = os.environ.get("AGENCY_NAME", "State Office of Community Response")
    AGENCY_TIMEZONE = os.environ.get("AGENCY_TIMEZONE", "America/Chicago")
    # Prefix for published grant identifiers (360Giving), e.g. US-STATE-OCR.
    ORG_ID_PREFIX = os.environ.get("ORG_ID_PREFIX", "US-STATE-OCR")

    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads"))
    MAX_UPLOAD_MB = _env_int("MAX_UPLOAD_MB", 10)

    # Where people reach the site (scheme, host, optional path): every link in an e-mail or export
    # is built from it, never from a request's Host header, which a client chooses. Required in
    # production; BASE_URL is the older name, still read. SERVER_NAME + PREFERRED_URL_SCHEME also do.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or os.environ.get("BASE_URL")
    SERVER_NAME = os.environ.get("SERVER_NAME")
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")

    # Outgoing mail: messages are queued in the outbox and sent by SMTP when MAIL_SERVER is set,
    # otherwise written to the log.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 587)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "true").lower() == "true"
    MAIL_FROM = os.environ.get("MAIL_FROM", "grants-noreply@example.gov")
    # Deliver queued messages right after the request that queued them commits.
    OUTBOX_SEND_AFTER_REQUEST = os.environ.get("OUTBOX_SEND_AFTER_REQUEST", "true").lower() == "true"
    # A message that fails is tried again after OUTBOX_RETRY_SECONDS, doubling each time (at most six
    # hours), and shown as failed after OUTBOX_MAX_ATTEMPTS. A worker's claim on a message runs out
    # after OUTBOX_CLAIM_SECONDS, so one that died mid-send does not keep it forever.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_RETRY_SECONDS = _env_int("OUTBOX_RETRY_SECONDS", 60)
    OUTBOX_CLAIM_SECONDS = _env_int("OUTBOX_CLAIM_SECONDS", 600)

    # Sign-in throttling: after LOGIN_MAX_FAILURES wrong passwords for one address from one client,
    # that client (not the account) waits LOGIN_LOCK_MINUTES. Counted in the database so it holds
    # across processes and hosts.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15

    # Per-client request limits (Flask-Limiter) on sign-in, registration, password reset and
    # invitations. memory:// counts per process; with several processes or hosts, share one
    # storage such as redis://redis.internal:6379 (needs the redis package).
    RATE_LIMITS_ENABLED = os.environ.get("RATE_LIMITS_ENABLED", "true").lower() == "true"
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_SIGN_IN = os.environ.get("RATELIMIT_SIGN_IN", "20 per minute;300 per hour")
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "20 per hour")
    RATELIMIT_PASSWORD_RESET = os.environ.get("RATELIMIT_PASSWORD_RESET", "10 per hour")
    RATELIMIT_INVITATION = os.environ.get("RATELIMIT_INVITATION", "30 per hour")
    PASSWORD_RESET_MAX_AGE = 3600
    PASSWORD_HASH_METHOD = "scrypt"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    FORCE_HTTPS = False
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    PER_PAGE = 25

    @property
    def MAX_CONTENT_LENGTH(self) -> int:  # noqa: N802 - Flask's name
        # A little headroom over one file for the rest of the multipart form.
        return (self.MAX_UPLOAD_MB + 1) * 1024 * 1024


LOCAL_BASE_URL = "http://127.0.0.1:5000"


class DevelopmentConfig(Config):
    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-secret"
    PUBLIC_BASE_URL = Config.PUBLIC_BASE_URL or (None if Config.SERVER_NAME else LOCAL_BASE_URL)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-only-not-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_SQLITE_URL", "sqlite://")
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing keeps the suite quick
    OUTBOX_SEND_AFTER_REQUEST = False
    MAIL_SERVER = None
    PUBLIC_BASE_URL = LOCAL_BASE_URL
    SERVER_NAME = None
    # The suite signs in many times from one address; the tests of the limits switch them on.
    RATE_LIMITS_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    FORCE_HTTPS = os.environ.get("FORCE_HTTPS", "false").lower() == "true"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
