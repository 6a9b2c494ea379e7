"""The scheduler: claims pending runs from Postgres, places them on workers, sweeps leases."""
