"""`monitor worker`: the monitor past one machine, on Procrastinate (a task queue kept in the
PostgreSQL database the monitor already uses). Any number of worker processes, on any number
of machines, share one database: each source poll, each source's article fetch, each judge
batch and each digest is a job; the queue's locks keep a source to one worker at a time and
its heartbeats let a killed worker's job be retried by another. `monitor serve` on SQLite
is untouched by this package (docs/SCALE.md)."""
