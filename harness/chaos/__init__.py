"""``harness chaos``: a timed baseline → fault → recovery run with evidence.

``faults`` turns flags into toxics (one small class per fault behind one
interface); ``load`` runs Locust headless in its own processes; ``evidence``
collects what the analyzers judge; ``runner`` puts them on one timeline and
guarantees rollback.
"""
