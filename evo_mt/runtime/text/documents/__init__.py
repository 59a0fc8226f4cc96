"""Documents translated in their own format, their structure and formatting kept."""
