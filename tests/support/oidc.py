"""A real OpenID Connect provider on 127.0.0.1 for the login tests: oidc-provider-mock's
Flask app (authlib's authorization server: discovery, authorization code flow, signed ID
tokens, JWKS, userinfo, end-session), served by werkzeug in a thread. Its consent page asks
for a subject; the user's e-mail claim is that subject."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def oidc_provider() -> Iterator[str]:
    """Yield the issuer URL (``http://127.0.0.1:PORT``); discovery is under
    ``/.well-known/openid-configuration``."""
    import werkzeug.serving
    from oidc_provider_mock import app

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on the loopback only
    server = werkzeug.serving.make_server("127.0.0.1", 0, app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
