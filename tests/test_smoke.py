def test_cast_builds_and_owner_lists_teams(cast, client_for):
    response = client_for(cast.owner_a).get("/api/v1/companies/alpha/teams/")
    assert response.status_code == 200
    assert [team["name"] for team in response.json()["results"]] == ["Alpha Checkout"]
