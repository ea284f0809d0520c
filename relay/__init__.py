"""The relay: delivers recorded alerts to webhooks and SIEMs (configuration, signing, the
address guard, retry timing and SIEM formats)."""
