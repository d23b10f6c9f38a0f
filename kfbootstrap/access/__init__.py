"""How people reach the platform: forwards (`expose`), credentials (`creds`), `status` and the summary after `up`."""
