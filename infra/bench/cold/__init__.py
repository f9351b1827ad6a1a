"""Cold start: a fresh process, the Lambda sandbox, its instruction count, SnapStart and the bundle sizes."""
