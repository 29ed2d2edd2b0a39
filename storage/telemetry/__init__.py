"""What the processes tell operators besides metrics: OpenTelemetry traces (tracing.py)."""
