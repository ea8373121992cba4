"""Hand-written parsed message records for the text feature tests.

Short emails in the shape of docs/records.md (only the fields the analyzer
reads), with repeated phrases so that n-grams, df pruning and collocations
have something to find, plus awkward cases: accents, URLs, addresses,
numbers, an empty message and one whose text is all quoted history.
"""

import json

RECORDS = [
    {"message_id": "m01@corp", "subject": "Meeting tomorrow",
     "body": "Can we schedule a meeting tomorrow at 10am? The conference room is free.",
     "quoted": "> Are you free this week?"},
    {"message_id": "m02@corp", "subject": "Re: Meeting tomorrow",
     "body": "Yes, the conference room works. Let's meet at 10am and review the budget.",
     "quoted": "> Can we schedule a meeting tomorrow at 10am?"},
    {"message_id": "m03@corp", "subject": "Budget review",
     "body": "Please send the budget review to jeff.skilling@enron.com before Friday. "
             "The budget numbers are in http://intranet.enron.com/budget?q=2001.",
     "quoted": ""},
    {"message_id": "m04@corp", "subject": "Gas prices",
     "body": "Natural gas prices rose 12.5% today. Natural gas demand is high; "
             "gas traders expect higher prices.",
     "quoted": ""},
    {"message_id": "m05@corp", "subject": "Lunch?",
     "body": "Lunch on Friday? The café near the office serves crêpes. Lunch is on me.",
     "quoted": ""},
    {"message_id": "m06@corp", "subject": "Conference room booking",
     "body": "I booked the conference room for the budget review meeting on Friday.",
     "quoted": "> Who is booking the room?"},
    {"message_id": "m07@corp", "subject": "Natural gas report",
     "body": "The natural gas report is attached. Call me at 713-853-5000 with questions.",
     "quoted": ""},
    {"message_id": "m08@corp", "subject": "", "body": "", "quoted": "> only history here"},
    {"message_id": "m09@corp", "subject": "Schedule",
     "body": "Scheduling the meetings: Monday and Friday mornings. Meetings run 30 minutes.",
     "quoted": ""},
    {"message_id": "m10@corp", "subject": "FW: gas prices",
     "body": "Forwarding the gas prices note; prices are up again. Natural gas, again!",
     "quoted": "> Natural gas prices rose"},
]


def record_lines(records=RECORDS):
    """The records as JSON lines, as the ingestion job writes them."""
    return [json.dumps(record) for record in records]
