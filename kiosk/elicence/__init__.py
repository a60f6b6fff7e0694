"""The e-licence library (电子证照库): the kiosk's client, and a simulator with an invented deck for tests and halls."""
