"""The config files of the clients ``setup`` writes besides the first four: where each lives on
each OS (``places``), the entry each expects (``entries``), the YAML ones (``yamlfile``), and the
``setup`` flow for them (``run``)."""
