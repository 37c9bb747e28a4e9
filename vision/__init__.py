"""Camera pipeline: YOLO detection, tracking, violation rules and evidence clips (issue #3).

Pure core (no video, no I/O): ``config`` (camera YAML, scene geometry), ``geometry``,
``tracks`` (frame-level value types), ``signals`` (traffic-light state per movement),
``catalogue`` (Decree 168 legal references, ``infra/data/violations.yaml``) and ``rules``
(one class per violation, ``evaluate(tracks, t) -> list[Violation]``).
"""
