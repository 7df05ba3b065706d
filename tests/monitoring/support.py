"""Reading a scrape: every sample of the exposition, parsed with prometheus-client's own parser."""

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    def __init__(self, text):
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name, **labels):
        """The sample `name` with exactly these labels (0 when absent, as Prometheus reads a counter
        not yet incremented)."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0

    def names(self):
        return {sample.name for sample in self.samples}

    def minus(self, before):
        """{(name, labels): change} of every sample since `before`, changed ones only."""
        earlier = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in before.samples}
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value - earlier.get((s.name, tuple(sorted(s.labels.items()))), 0)
            for s in self.samples
            if s.value != earlier.get((s.name, tuple(sorted(s.labels.items()))), 0)
        }
