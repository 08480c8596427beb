"""A review session on disk: the session folder beside a volume (:mod:`.session`), its atomic files and their
checks (:mod:`.file`), and the lock that keeps a second window from writing the same session (:mod:`.lock`).

Nothing is imported here.
"""
