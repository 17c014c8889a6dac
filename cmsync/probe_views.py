"""/health/live, /health/ready and /metrics: for load balancers, orchestrators and Prometheus.

No login, no session, no database write: cmsync.middleware.Probes answers them before the
host check and the HTTPS redirect (probes come by IP address over plain HTTP inside the
network). They are in the URLconf too, so they have names and the URL walk lists them.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from . import health, metrics


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; nothing else is asked."""
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    """200 when the database, broker and cache answer and the migrations are applied; 503
    naming what failed (and why, without credentials) otherwise."""
    checks = health.run()
    failed = [c.name for c in checks if not c.ok]
    body = {
        "status": "fail" if failed else "ok",
        "failed": failed,
        "checks": {c.name: c.to_dict() for c in checks},
    }
    return JsonResponse(body, status=503 if failed else 200)


def _client_ip(request: HttpRequest) -> str:
    from security.lockouts import client_ip

    return client_ip(request) or ""


def _allowed(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS
    )


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format. Off (404) unless METRICS_TOKEN or METRICS_ALLOWED_IPS is
    set; then a scrape needs the bearer token (compared in constant time) and an allowed
    address, whichever are set."""
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS
    if not token and not networks:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if networks and not _allowed(_client_ip(request)):
        return HttpResponse(
            "Forbidden: this address may not scrape metrics.\n",
            status=403,
            content_type="text/plain",
        )
    if token:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            response = HttpResponse(
                "Unauthorized: a bearer token is needed.\n", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="cmsync metrics"'
            return response
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)


BY_PATH = {"/health/live": live, "/health/ready": ready, "/metrics": metrics_view}
