from django.dispatch import Signal

# Sent by connection.disconnect() before the credentials are removed. Receivers stop what
# depends on the connection: scheduled, queued and running syncs; user overrides and client
# ownership. Arguments: connection, user.
disconnecting = Signal()
