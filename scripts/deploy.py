"""brownie's deploy script: `scripts/brownie.sh run scripts/deploy.py` deploys DaifaEscrow, operated by
brownie's first account, and the devnet test dollar, on a local anvil (`daifa devnet up`), and prints
where they are. The platform's own deploy, which also writes deployments/<chain-id>.json, is `daifa deploy`.
"""

from brownie import DaifaEscrow, DaifaTestDollar, accounts, network


def main():
    operator = accounts[0]
    escrow = DaifaEscrow.deploy(operator, {"from": operator})
    token = DaifaTestDollar.deploy({"from": operator})
    print(f"network {network.show_active()} (chain {network.chain.id})")
    print(f"DaifaEscrow {escrow.address} operated by {escrow.operator()}")
    print(f"DaifaTestDollar {token.address} ({token.symbol()}, {token.decimals()} decimals)")
    return escrow, token
