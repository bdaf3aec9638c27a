"""Executors of a render plan: :mod:`.local` (a process pool on this machine) and :mod:`.ray` (one Ray
task per unit, bounded in flight). Both run the same worker process (:mod:`synth.worker`) built by
:mod:`.common`, and both hold their units' leases with a heartbeat (:mod:`synth.leases`)."""
