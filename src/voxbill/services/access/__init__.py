"""Who may do what, and who is calling: API keys and portal users
(:mod:`~voxbill.services.access.keys`), failed-key throttling
(:mod:`~voxbill.services.access.failures`), caller identifiers and the hot-path caller
lookup (:mod:`~voxbill.services.access.identifiers`) and calling-card PIN checks
(:mod:`~voxbill.services.access.card_pins`). The rules themselves are pure, in
:mod:`voxbill.domain.access`, :mod:`voxbill.domain.identifiers` and
:mod:`voxbill.domain.card_pins`."""
