"""Object-store credentials are never settings: an `s3://` store signs with boto3's default chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, web identity, the
instance or task role) and a `gs://` store with Google's Application Default Credentials
(GOOGLE_APPLICATION_CREDENTIALS, workload identity, the metadata server). A key written into an
object store's section would sit in a file next to the code, so it is refused, naming where it
goes instead (ARCHITECTURE §5: secrets come from the environment or a secrets manager)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

# Field names someone might reach for, as boto3, gcsfs or rclone spell them.
_CREDENTIAL_FIELDS = frozenset(
    {
        "access_key",
        "access_key_id",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "secret_key",
        "secret_access_key",
        "session_token",
        "credentials",
        "credentials_file",
        "service_account_file",
        "service_account_key",
        "token",
    }
)
ENVIRONMENT_INSTEAD = (
    "credentials come from the environment, never the configuration: for s3:// set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or use a role), for gs:// "
    "set GOOGLE_APPLICATION_CREDENTIALS (or use workload identity)"
)


def refuse_credentials(section: Any) -> Any:
    """An object store's raw section, unchanged; raises ValueError when it carries a credential
    field or an `endpoint_url` with a user name or password in it."""
    if not isinstance(section, dict):
        return section
    named = sorted(_CREDENTIAL_FIELDS.intersection(key.lower() for key in section))
    if named:
        raise ValueError(f"{', '.join(named)}: {ENVIRONMENT_INSTEAD}")
    endpoint = section.get("endpoint_url")
    if isinstance(endpoint, str) and (urlparse(endpoint).username is not None):
        raise ValueError(f"endpoint_url carries a user name or password: {ENVIRONMENT_INSTEAD}")
    return section
