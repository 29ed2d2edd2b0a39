"""What the processes tell operators besides metrics: OpenTelemetry traces (tracing.py) and log
records as text or JSON lines (json_logs.py) carrying the labels of where they were made
(log_labels.py)."""
