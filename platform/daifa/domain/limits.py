"""How much a caller may send in one field or list: the platform's own limits, shared by the use cases
that check them and the API schemas that document them. The contracts' limits are in daifa.domain.plans."""

MAX_NAME = 200  # characters of a name: a legal name, a business, a material
MAX_TEXT = 2_000  # characters of a comment, a reason, a note, a verification method
MAX_MATERIALS = 20  # materials one instalment may require
MAX_TOKENS = 8  # tokens one product may pay in
MAX_SIGNATURE_BYTES = 4_096  # a contract wallet's signature: a multisig of 60 owners (ECDSA's is 65)
MAX_BATCH = 100  # records one batch request acts on: signatures, credit authorisations
MAX_ID = 40  # characters of a public id (prd_12)
MAX_URL = 2_000  # characters of a webhook URL
MAX_LABEL = 100  # characters of an API key's label
