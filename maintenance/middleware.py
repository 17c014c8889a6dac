from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from django.conf import settings


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """django-auditlog's middleware, but X-Forwarded-For is only believed behind a proxy.

    Without a proxy in front, any client could write any address into the audit log.
    """

    @staticmethod
    def _get_remote_addr(request):
        if settings.AUDITLOG_TRUST_FORWARDED_FOR:
            return BaseAuditlogMiddleware._get_remote_addr(request)
        return request.META.get("REMOTE_ADDR")

    @staticmethod
    def _get_remote_port(request):
        return None
