# jupyterhub_config.py -- a university hub logging in against Active Directory
import ssl
c = get_config()  #noqa

c.JupyterHub.authenticator_class = "ldapauthenticator.LDAPAuthenticator"
c.LDAPAuthenticator.server_address = "ad.example.edu"
c.LDAPAuthenticator.use_ssl = True
c.LDAPAuthenticator.lookup_dn = True
c.LDAPAuthenticator.user_search_base = "ou=Users,dc=example,dc=edu"
c.LDAPAuthenticator.user_attribute = "sAMAccountName"
c.LDAPAuthenticator.lookup_dn_user_dn_attribute = "sAMAccountName"
c.LDAPAuthenticator.lookup_dn_search_user = "svc-jupyter@example.edu"
c.LDAPAuthenticator.lookup_dn_search_password = "s3rvice"
c.LDAPAuthenticator.use_lookup_dn_username = True
c.LDAPAuthenticator.allowed_groups = ["cn=jupyter,ou=Groups,dc=example,dc=edu"]
c.LDAPAuthenticator.group_search_filter = "(member:1.2.840.113556.1.4.1941:={userdn})"
c.LDAPAuthenticator.auth_state_attributes = ["mail", "displayName"]
c.LDAPAuthenticator.tls_kwargs = {"validate": ssl.CERT_REQUIRED}
c.LDAPAuthenticator.escape_userdn = False
