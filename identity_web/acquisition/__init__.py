"""Token acquisition: the acquirer, its plans and flows, and the authorization header provider.

`TokenAcquirer.token_step` is the one acquisition step (cache, single-flight, the plan's flow);
`AuthorizationHeaderProvider.header_step` builds on it. Modules: `_acquirer` (the acquirer),
`_plan` (request → `AcquisitionPlan`, plans and cache hits remembered, `HeldHeader`), `_flows`
(the network part per plan), `_fic` (explaining a refused federated credential), `_headers`
(the header provider), `_options` (what a request may carry).
"""

from identity_web._results import header_information
from identity_web.acquisition._acquirer import TokenAcquirer
from identity_web.acquisition._headers import (
    AppTokenAcquirer,
    AuthorizationHeaderProvider,
    HeaderRequest,
    prepare,
)
from identity_web.acquisition._options import AcquireOptions, CredentialSource, TokenRequestOptions
from identity_web.acquisition._plan import CacheLevel, HeldHeader

__all__ = [
    "AcquireOptions",
    "AppTokenAcquirer",
    "AuthorizationHeaderProvider",
    "CacheLevel",
    "CredentialSource",
    "HeaderRequest",
    "HeldHeader",
    "TokenAcquirer",
    "TokenRequestOptions",
    "header_information",
    "prepare",
]
