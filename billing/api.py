"""Billing invoices over the API (read-only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from cmsync.api import error_response

from . import accounts, stripe_client


class InvoiceSerializer(serializers.Serializer):
    id = serializers.CharField()
    number = serializers.CharField()
    created = serializers.DateTimeField()
    amount = serializers.IntegerField(help_text="In cents.")
    currency = serializers.CharField()
    status = serializers.CharField()
    pdf_url = serializers.CharField(allow_blank=True)


class StripeUnavailable(APIException):
    status_code = 503
    default_detail = "Stripe could not be reached. Try again in a few minutes."


class InvoiceList(APIView):
    """The installation's invoices, newest first (empty when billing is not configured)."""

    permissions = {"GET": "billing.view_billingaccount"}

    @extend_schema(
        responses={
            200: InvoiceSerializer(many=True),
            503: error_response(StripeUnavailable.default_detail),
        }
    )
    def get(self, request):
        if not stripe_client.configured():
            return Response([])
        customer = accounts.account().customer_id
        if not customer:
            return Response([])
        try:
            invoices = stripe_client.list_invoices(customer)
        except stripe_client.BillingError as exc:
            raise StripeUnavailable(str(exc)) from exc
        return Response(InvoiceSerializer(invoices, many=True).data)
