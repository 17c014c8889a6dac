from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from cmsync import probe_views
from security import account

urlpatterns = [
    # Answered by cmsync.middleware.Probes before the rest; here for names and the URL walk.
    path("health/live", probe_views.live, name="health-live"),
    path("health/ready", probe_views.ready, name="health-ready"),
    path("metrics", probe_views.metrics_view, name="metrics"),
    path("", RedirectView.as_view(pattern_name="sync", permanent=False)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=account.LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", account.account_view, name="account"),
    path("accounts/password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            post_reset_login=True,
            # Two backends (django-axes first): say which one logs the user in.
            post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("settings_app.urls")),
    path("campaign-monitor/", include("campaign_monitor.urls")),
    path("salesforce/", include("salesforce.urls")),
    path("sync/", include("sync.urls")),
    path("lists/", include("subscriptions.urls")),
    path("maintenance/", include("maintenance.urls")),
    path("security/", include("security.urls")),
    path("billing/", include("billing.urls")),
    path("api/v1/", include("cmsync.api_urls")),
    path("admin/", admin.site.urls),
]

# The console's error pages in its frame; under /api/, the API's error shape (cmsync.error_pages).
handler400 = "cmsync.error_pages.bad_request"
handler403 = "cmsync.error_pages.permission_denied"
handler404 = "cmsync.error_pages.page_not_found"
handler500 = "cmsync.error_pages.server_error"
