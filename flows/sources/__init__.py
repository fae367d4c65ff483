"""The source systems as the pipeline sees them: contract, identity, how a run opens them."""
