"""The whole system on one machine (``hero-foundry up``): the local configuration generated from
monitoring/ (:mod:`.config`), the notification sink (:mod:`.sink`) and the process supervisor
(:mod:`.supervisor`). docs/local-stack.md describes it."""
