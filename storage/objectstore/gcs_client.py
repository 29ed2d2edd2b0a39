"""The google-cloud-storage client of a `gs://` store: Application Default Credentials, or, with
an `endpoint_url` (fake-gcs-server, other emulators), anonymous credentials on that endpoint."""

from __future__ import annotations

from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from storage.objectstore.errors import AccessDenied

# Emulators ignore the project, but the client insists on one.
_EMULATOR_PROJECT = "geoledger-emulator"


def open_gcs_client(store: str, endpoint_url: str | None) -> storage.Client:
    """A client for the store at URL `store`; sends nothing yet.

    Raises AccessDenied when there is no endpoint and no Application Default Credentials.
    """
    try:
        if endpoint_url:
            return storage.Client(
                project=_EMULATOR_PROJECT,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": endpoint_url},
            )
        return storage.Client()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise AccessDenied(
            store, None, "connect", f"no Application Default Credentials: {exc}"
        ) from exc
