"""The LLM gateway: every model call of the factory goes through `LLMGateway`.

litellm fetches a price list over the network at import unless told otherwise; the factory runs
offline, so the local copy is requested before anything imports litellm.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
