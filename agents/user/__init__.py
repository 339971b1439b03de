"""The user: writes instructions for a tool and answers the assistant's clarifying questions."""
