from django.urls import path

from messaging import views, webhooks

# Served on the platform domain and on every tenant domain: providers post to one URL.
webhook_urls = [
    path("api/webhooks/message-status", webhooks.message_status, name="webhook-message-status"),
    path("api/webhooks/whatsapp", webhooks.whatsapp, name="webhook-whatsapp"),
    path("api/webhooks/sendgrid", webhooks.sendgrid, name="webhook-sendgrid"),
]
# Tenant domains only: the link knows its tenant by the domain it was sent from.
tenant_urls = [path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe")]
