"""JupyterHub for a university research computing center, logging in through CILogon."""
import os

c.JupyterHub.authenticator_class = "cilogon"
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

c.CILogonOAuthenticator.client_id = "cilogon:/client_id/6c3f1d2e9a8b7c6d5e4f3a2b1c0d9e8f"
c.CILogonOAuthenticator.client_secret = os.environ["CILOGON_CLIENT_SECRET"]
c.CILogonOAuthenticator.oauth_callback_url = "https://jupyter.rc.example.edu/hub/oauth_callback"
c.CILogonOAuthenticator.skin = "rc-example"
c.CILogonOAuthenticator.scope = ["openid", "email", "org.cilogon.userinfo", "profile", "offline_access"]
c.CILogonOAuthenticator.allowed_idps = {
    "urn:mace:incommon:example.edu": {
        "username_derivation": {
            "username_claim": "eppn",
            "action": "strip_idp_domain",
            "domain": "example.edu",
        },
        "allowed_domains": ["example.edu", "*.example.edu"],
        "default": True,
    },
    "http://github.com/login/oauth/authorize": {
        "username_derivation": {
            "username_claim": "oidc",
            "action": "prefix",
            "prefix": "github",
        },
    },
    "http://orcid.org/oauth/authorize": {
        "username_derivation": {"username_claim": "oidc", "action": "prefix", "prefix": "orcid"},
        "allow_all": True,
    },
}
c.Authenticator.admin_users = {"rcadmin", "github:583231"}
c.Authenticator.allowed_users = set(["github:9919"])
c.Authenticator.enable_auth_state = True
c.CILogonOAuthenticator.refresh_pre_spawn = True

# --- spawner ---
c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
c.SlurmSpawner.req_partition = "jupyter"
c.Spawner.default_url = "/lab"
