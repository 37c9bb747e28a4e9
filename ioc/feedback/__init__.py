"""Citizen feedback ("phản ánh kiến nghị"): the pure, database-free core.

* :mod:`~ioc.feedback.catalogue` - departments, categories (Open311 service codes), tiers.
* :mod:`~ioc.feedback.calendar` - working-time deadlines with holidays.
* :mod:`~ioc.feedback.lifecycle` - received → routed/triage → in progress → resolved/rejected.
* :mod:`~ioc.feedback.text` - Vietnamese/English normalisation.
* :mod:`~ioc.feedback.classifier` - text → category with a confidence; save/load.
* :mod:`~ioc.feedback.evaluate` - accuracy, macro-F1, recall, confusion; vs a baseline.

Nothing here opens a connection or reads a clock; the services feed it and store the result.
"""
