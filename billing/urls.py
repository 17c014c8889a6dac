from django.urls import path

from . import views

urlpatterns = [
    path("", views.billing, name="billing"),
    path("card/setup/", views.card_setup, name="billing-card-setup"),
    path("card/", views.card_save, name="billing-card"),
    path("cancel/", views.cancel, name="billing-cancel"),
    path("contact/", views.contact, name="billing-contact"),
    path("invoices/resend/", views.resend, name="billing-resend"),
    path("invoices/<str:invoice_id>/", views.invoice, name="billing-invoice"),
    path("webhook/", views.webhook, name="billing-webhook"),
]
