"""The mailbox loop: IMAP connections, incremental fetch, and the watcher.

- ``connection``: ``imaps://USER@HOST[:PORT]`` URLs, the password (from the
  environment or ``~/.netrc``), verified TLS, and one clear error for each
  way a connection fails (``MailboxError``);
- ``state``: small JSON state files written atomically (local or S3);
- ``fetch``: copies folders to one mbox per folder, or to ``dt=`` partitions
  in S3, incrementally by UIDVALIDITY and UID (docs/mailbox.md);
- ``watch``: scores new mail with a model bundle as it arrives and notifies.

Everything here raises ``MailboxError`` for what the user can fix and never
prints; the CLI modules (scripts/cmd_fetch.py, scripts/cmd_watch.py) turn it
into one line.
"""
