"""Built-in probes; each module holds one probe and imports heavy libraries inside ``run``."""
