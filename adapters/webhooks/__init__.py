"""Webhooks: where a delivery may go (ssrf.py), how it is signed (signing.py) and sent
(sender.py), and the deliverer that follows the log (deliverer.py, tables.py)."""
