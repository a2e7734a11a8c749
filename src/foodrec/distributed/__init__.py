"""Scale-out on Ray: the engine (:mod:`.engine`), parallel search (:mod:`.search`), data-parallel training
(:mod:`.data_parallel`) and parallel reads of the day-partitioned store (:mod:`.reads`). See ``docs/scaling.md``."""
