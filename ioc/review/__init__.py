"""Police review of camera violations (issue #5): the pure core.

* :mod:`ioc.review.workflow` - the review state machine and decision validation.
* :mod:`ioc.review.audit` - the hash chain of the audit log (compute, verify).
* :mod:`ioc.review.case` - one case as the reviewer sees it.
* :mod:`ioc.review.notice` - the fields and printable HTML of a violation notice.
* :mod:`ioc.review.export` - the case package (ZIP).
* :mod:`ioc.review.labels` - a YOLO dataset from officers' decisions.
* :mod:`ioc.review.retention` - which evidence may be purged.

Nothing here opens a file, a socket or a database; storage is :mod:`ioc.storage.review`.
"""
