"""The contracts through brownie: deployment, party approval, the operator's switches."""

import brownie

PAYER, PAYEE = 1, 2
DOCUMENTS = "0x" + "11" * 32


def test_the_deployer_names_the_operator(escrow, operator):
    assert escrow.operator() == operator
    assert escrow.paused() is False


def test_the_operator_approves_a_party_with_its_reviewed_documents(escrow, operator, accounts):
    tx = escrow.approveParty(accounts[1], PAYER, DOCUMENTS, {"from": operator})
    assert tx.events["PartyApproved"]["account"] == accounts[1]
    roles, suspended, documents = escrow.party(accounts[1])
    assert (int(roles), suspended, str(documents)) == (PAYER, False, DOCUMENTS)


def test_no_one_else_approves_parties(escrow, accounts):
    with brownie.reverts():
        escrow.approveParty(accounts[2], PAYEE, DOCUMENTS, {"from": accounts[3]})


def test_suspension_is_recorded_and_lifted(escrow, operator, accounts):
    escrow.approveParty(accounts[1], PAYEE, DOCUMENTS, {"from": operator})
    escrow.suspendParty(accounts[1], {"from": operator})
    assert escrow.party(accounts[1])[1] is True
    escrow.reinstateParty(accounts[1], {"from": operator})
    assert escrow.party(accounts[1])[1] is False


def test_the_test_dollar_faucet_is_capped(dollar, accounts):
    dollar.faucet(accounts[1], 1_000 * 10**6, {"from": accounts[1]})
    assert dollar.balanceOf(accounts[1]) == 1_000 * 10**6
    with brownie.reverts():
        dollar.faucet(accounts[1], 10**20, {"from": accounts[1]})
