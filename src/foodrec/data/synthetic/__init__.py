"""The synthetic city: a documented ground-truth choice model that writes a realistic order log.

``foodrec generate --out DIR`` runs :func:`~foodrec.data.synthetic.generate.generate_city`; the oracle and
the customer simulator use :class:`~foodrec.data.synthetic.truth.GroundTruth`. See docs/synthetic.md.

>>> from foodrec.data.synthetic import GroundTruth, preset_config
>>> preset_config("default").level
'dish'
"""

from foodrec.data.synthetic.presets import PRESETS, CityConfig, preset_config
from foodrec.data.synthetic.truth import GroundTruth

__all__ = ["PRESETS", "CityConfig", "GroundTruth", "preset_config"]
