"""Camera pipeline: YOLO detection, tracking, violation rules and evidence clips (issue #3)."""
