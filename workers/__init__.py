"""RQ workers: queue partitions, small jobs over the ``campaigns`` services, the sweeper."""
